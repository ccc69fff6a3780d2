"""New segmentation: pick a dataset, features (with their kinds), an algorithm, k or auto,
write the hypothesis; the work runs as a background job whose progress the page follows
(htmx polling), then the page moves on to the new version.

Revisiting (the same hypothesis on newer data, `segtrail revisit`) is a job too, started from
a version page; its progress shows on the same job page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from segtrail.errors import InvalidInput, NotFound
from segtrail.services.workspace import Workspace
from segtrail.web.deps import csrf_protect, current_principal, jobs_of, pool_of, workspace_for
from segtrail.web.hints import page_words
from segtrail.web.pages.common import is_htmx, render, see_other, version_url

router = APIRouter(include_in_schema=False)

# What the page offers, in plain words; "auto" lets segtrail choose model, k and weights.
ALGORITHMS = {
    "auto": "Let segtrail choose (recommended)",
    "kmeans": "K-means: round groups of similar size",
    "bisecting": "Bisecting k-means: split the widest group, again and again",
    "gmm": "Gaussian mixture: groups of different shapes",
    "agglomerative": "Ward hierarchy: nested groups",
    "lca": "Latent classes: mixed numbers and categories",
    "dbscan": "DBSCAN: dense pockets, the rest left unassigned",
    "hdbscan": "HDBSCAN: dense pockets of different densities",
}
WITHOUT_K = {"dbscan", "hdbscan"}


def feature_columns(ws: Workspace, dataset: str) -> list[dict]:
    """The columns one may segment on, with their kinds (not the id, not free text)."""
    from segtrail.engine.features import FEATURE_KINDS

    info = ws.dataset(dataset)
    return [
        {"name": c["name"], "kind": c["kind"]}
        for c in info["columns"]
        if c["name"] != info["id_column"] and c["kind"] in FEATURE_KINDS
    ]


def parse_k(text: str, algorithm: str) -> int | str | None:
    """The number of segments: a whole number from 2 up, or 'auto' (or empty): searched over
    a range; when segtrail chooses the algorithm too, None leaves k to that choice."""
    text = text.strip().lower()
    if algorithm in WITHOUT_K:
        return None  # density-based: the data decides how many segments
    if text in ("", "auto"):
        return None if algorithm == "auto" else "auto"
    if not text.isdigit() or not 2 <= int(text) <= 50:
        raise InvalidInput(
            f"number of segments: '{text}' is not a whole number from 2 to 50 (or 'auto')",
            field="k",
        )
    return int(text)


def _form_context(ws: Workspace, values: dict[str, Any]) -> dict[str, Any]:
    datasets = ws.datasets()
    names = sorted({d.name for d in datasets})
    latest = {d.name: d.dataset for d in datasets}  # by version: the last one wins
    dataset = values.get("dataset") or (datasets[-1].name if datasets else "")
    columns = feature_columns(ws, dataset) if dataset else []
    lenses = sorted({e.lens for e in ws.log()})
    return {
        "datasets": names,
        "latest": latest,
        "columns": columns,
        "lenses": lenses,
        "algorithms": ALGORITHMS,
        "values": {
            "dataset": dataset,
            "algorithm": "auto",
            "k": "auto",
            "features": None,
            **values,
        },
    }


@router.get("/segment", response_class=HTMLResponse)
def new_segmentation(
    request: Request, dataset: str = "", lens: str = "", ws: Workspace = Depends(workspace_for)
) -> HTMLResponse:
    # the dataset link from a dataset page names a version; the form picks by name
    values = {"dataset": dataset.split("@")[0], "lens": lens}
    return render(
        request,
        "segment.html",
        title="New segmentation",
        nav="/segment",
        **_form_context(ws, values),
    )


@router.get("/segment/features", response_class=HTMLResponse)
def features_fragment(
    request: Request, dataset: str, ws: Workspace = Depends(workspace_for)
) -> HTMLResponse:
    """The feature checkboxes of one dataset (htmx swaps them in when the dataset changes)."""
    return render(
        request,
        "segment_features.html",
        columns=feature_columns(ws, dataset),
        values={"features": None},
    )


@router.post("/segment", response_class=HTMLResponse, dependencies=[Depends(csrf_protect)])
async def submit_segmentation(request: Request) -> Response:
    from segtrail.services.access import require_write

    form = await request.form()
    values = {
        "dataset": str(form.get("dataset", "")),
        "lens": str(form.get("lens", "")).strip() or str(form.get("new_lens", "")).strip(),
        "features": [str(f) for f in form.getlist("features")],
        "algorithm": str(form.get("algorithm", "auto")),
        "k": str(form.get("k", "")),
        "hypothesis": str(form.get("hypothesis", "")),
    }
    principal = current_principal(request)
    pool = pool_of(request)
    with pool.session(principal.name) as ws:
        try:
            if not values["lens"]:
                raise InvalidInput("name the lens (the team's view, e.g. marketing)", field="lens")
            require_write(principal, values["lens"])
            if values["algorithm"] not in ALGORITHMS:
                raise InvalidInput(f"unknown algorithm '{values['algorithm']}'", field="algorithm")
            if not values["hypothesis"].strip():
                raise InvalidInput(
                    "write the hypothesis: why these features, what you expect to find",
                    field="hypothesis",
                )
            columns = [c["name"] for c in feature_columns(ws, values["dataset"])]
            if not values["features"]:
                raise InvalidInput("tick at least one feature to segment on", field="features")
            unknown = sorted(set(values["features"]) - set(columns))
            if unknown:
                raise InvalidInput(
                    f"no column {unknown[0]} in {values['dataset']}", field="features"
                )
            k = parse_k(values["k"], values["algorithm"])
        except (InvalidInput, NotFound) as error:
            return render(
                request,
                "segment.html",
                status_code=422,
                title="New segmentation",
                nav="/segment",
                error=page_words(str(error)),
                error_field=error.field,
                **_form_context(ws, values),
            )
    features = values["features"] if len(values["features"]) < len(columns) else None
    algorithm = values["algorithm"]
    job = jobs_of(request).submit(
        "segment",
        run_segment,
        author=principal.name,
        pool=pool,
        who=principal.name,
        options={
            "dataset": values["dataset"],
            "lens": values["lens"],
            "hypothesis": values["hypothesis"].strip(),
            "features": features,
            "algorithm": None if algorithm == "auto" else algorithm,
            "k": k,
        },
    )
    return see_other(f"/jobs/{job}")


def run_segment(progress: Any, pool: Any, who: str, options: dict) -> dict:
    """The job: segment as the signed-in user `who`; the result names the new version."""
    with pool.session(who) as ws:
        version = ws.segment(progress=progress, **options)
    return {"version": version.version, "k": version.k, "url": version_url(version.version)}


def run_revisit(progress: Any, pool: Any, who: str, ref: str, dataset: str | None) -> dict:
    with pool.session(who) as ws:
        version = ws.revisit(ref, dataset, progress=progress)
    return {"version": version.version, "k": version.k, "url": version_url(version.version)}


@router.post("/versions/{ref}/revisit", dependencies=[Depends(csrf_protect)])
async def submit_revisit(request: Request, ref: str) -> Response:
    """Re-run a version's hypothesis (features, algorithm, parameters) on newer data."""
    from segtrail.services.access import require_write

    form = await request.form()
    dataset = str(form.get("dataset", "")).strip() or None
    principal = current_principal(request)
    require_write(principal, ref.split("@")[0])
    job = jobs_of(request).submit(
        "revisit",
        run_revisit,
        author=principal.name,
        pool=pool_of(request),
        who=principal.name,
        ref=ref,
        dataset=dataset,
    )
    return see_other(f"/jobs/{job}")


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str) -> Response:
    """The progress of a job; htmx polls the same URL for the progress box and is sent on to
    the result once the job is done."""
    current_principal(request)
    job = jobs_of(request).snapshot(job_id)
    if job is None:
        raise NotFound(
            "no such job (the server may have restarted; the work it finished is "
            "in the history all the same)"
        )
    if job["state"] == "done" and job["result"] and job["result"].get("url"):
        if is_htmx(request):
            response = Response(status_code=204)
            response.headers["HX-Redirect"] = job["result"]["url"] + "?new=1"
            return response
        return see_other(job["result"]["url"] + "?new=1")
    template = "job_progress.html" if is_htmx(request) else "job.html"
    return render(request, template, title="Working…", nav="/segment", job=job)
