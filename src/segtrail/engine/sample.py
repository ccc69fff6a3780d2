"""Built-in sample data: realistic retail customers with planted segments, and ten companies.

``generate_customers`` plants six segments (see ``SEGMENTS``), each set apart on several
columns, so that the default preprocessing plus k-means with automatic k finds them again.
``region`` is deliberately uninformative (the same mix in every segment) and ``email`` is
free text. A few percent of ``web_visits_per_month`` and ``email_open_rate`` are missing.
Everything is vectorized: a million customers take a few seconds, and the same seed gives
the same table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REFERENCE_DATE = pd.Timestamp("2025-06-30")

# name, share of customers
SEGMENTS: list[tuple[str, float]] = [
    ("younger, tech-savvy", 0.24),
    ("older, tech-casual", 0.20),
    ("bargain hunters", 0.20),
    ("loyal high spenders", 0.17),
    ("lapsed", 0.16),
    ("VIP", 0.03),
]

# Per-segment parameters, in the order of SEGMENTS.
_AGE = ([25, 67, 42, 44, 36, 56], [3, 5, 6, 6, 7, 6])
_TENURE = [14, 50, 30, 84, 40, 110]  # months
_ORDERS = [10, 5, 16, 22, 1.0, 60]  # per year, Poisson mean
_AOV = [35, 55, 20, 95, 45, 650]  # average order value, lognormal median
_WEB = [5, 2, 15, 7, 0.5, 25]  # visits per month
_APP = [35, 0.5, 3, 6, 0.3, 40]  # sessions per month
_OPEN = [0.06, 0.55, 0.35, 0.30, 0.05, 0.80]  # email open rate
_TICKETS = [1.0, 4.0, 1.5, 1.0, 0.3, 5.0]  # support tickets per year
_DISCOUNT = [0.05, 0.12, 0.70, 0.05, 0.15, 0.02]  # share of orders with a discount
_RECENCY = [20, 40, 15, 10, 320, 2]  # days since last order
_RETURNS = [0.08, 0.05, 0.15, 0.04, 0.06, 0.02]
_NEWSLETTER = [0.15, 0.8, 0.6, 0.5, 0.2, 0.95]

_CATEGORIES: dict[str, tuple[list[str], list[list[float]]]] = {
    "preferred_channel": (
        ["TikTok", "Instagram", "Email", "Phone", "Store", "Web"],
        [
            [0.60, 0.40, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.60, 0.40, 0.0, 0.0],
            [0.0, 0.0, 0.30, 0.0, 0.0, 0.70],
            [0.0, 0.0, 0.0, 0.0, 0.60, 0.40],
            [0.0, 0.0, 0.70, 0.0, 0.0, 0.30],
            [0.0, 0.0, 0.0, 0.80, 0.20, 0.0],
        ],
    ),
    "device": (
        ["iOS", "Android", "Desktop", "Tablet"],
        [
            [0.60, 0.40, 0.0, 0.0],
            [0.0, 0.0, 0.70, 0.30],
            [0.10, 0.40, 0.50, 0.0],
            [0.50, 0.20, 0.30, 0.0],
            [0.30, 0.30, 0.40, 0.0],
            [0.90, 0.0, 0.10, 0.0],
        ],
    ),
    "support_channel": (
        ["Chat", "Phone", "Email"],
        [
            [0.90, 0.0, 0.10],
            [0.0, 0.85, 0.15],
            [0.50, 0.0, 0.50],
            [0.70, 0.0, 0.30],
            [0.30, 0.10, 0.60],
            [0.10, 0.90, 0.0],
        ],
    ),
    "loyalty_tier": (
        ["Bronze", "Silver", "Gold", "Platinum"],
        [
            [0.70, 0.30, 0.0, 0.0],
            [0.50, 0.50, 0.0, 0.0],
            [0.80, 0.20, 0.0, 0.0],
            [0.0, 0.20, 0.80, 0.0],
            [0.95, 0.05, 0.0, 0.0],
            [0.0, 0.0, 0.10, 0.90],
        ],
    ),
    "payment_method": (
        ["Card", "PayPal", "Apple Pay", "Klarna", "Invoice"],
        [
            [0.10, 0.0, 0.50, 0.40, 0.0],
            [0.50, 0.10, 0.0, 0.0, 0.40],
            [0.40, 0.50, 0.0, 0.10, 0.0],
            [0.60, 0.20, 0.20, 0.0, 0.0],
            [0.50, 0.40, 0.05, 0.05, 0.0],
            [0.30, 0.0, 0.70, 0.0, 0.0],
        ],
    ),
}
_REGIONS = ["North", "South", "East", "West", "Central"]
_DOMAINS = (
    ["gmail.com", "icloud.com", "hotmail.com", "outlook.com", "yahoo.com"],
    [
        [0.60, 0.40, 0.0, 0.0, 0.0],
        [0.10, 0.0, 0.60, 0.15, 0.15],
        [0.50, 0.10, 0.15, 0.15, 0.10],
        [0.50, 0.15, 0.10, 0.15, 0.10],
        [0.50, 0.10, 0.15, 0.15, 0.10],
        [0.45, 0.35, 0.05, 0.15, 0.0],
    ],
)
_FIRST_NAMES = [
    "anna", "ben", "carla", "david", "emma", "felix", "grace", "hugo", "ines", "jonas",
    "karin", "liam", "maria", "noah", "olga", "paul", "rosa", "sam", "tara", "victor",
    "wendy", "yusuf", "zoe", "omar", "mei", "raj", "lena", "tom", "sofia", "ivan",
]  # fmt: skip

CUSTOMER_KINDS: dict[str, str] = {
    "customer_id": "id",
    "email": "text",
    "age": "numeric",
    "tenure_months": "numeric",
    "annual_spend": "numeric",
    "orders_per_year": "numeric",
    "avg_order_value": "numeric",
    "web_visits_per_month": "numeric",
    "app_sessions_per_month": "numeric",
    "email_open_rate": "numeric",
    "support_tickets": "numeric",
    "discount_share": "numeric",
    "days_since_last_order": "numeric",
    "return_rate": "numeric",
    "newsletter_subscriber": "boolean",
    "preferred_channel": "categorical",
    "device": "categorical",
    "support_channel": "categorical",
    "loyalty_tier": "categorical",
    "payment_method": "categorical",
    "region": "categorical",
    "signup_date": "datetime",
}
"""The kind of every column of ``generate_customers``' table."""


def generate_customers(n: int = 50_000, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    """A customer table of ``n`` rows and the planted segment (index into SEGMENTS) per row."""
    rng = np.random.default_rng(seed)
    shares = np.array([share for _, share in SEGMENTS])
    seg = rng.choice(len(SEGMENTS), size=n, p=shares / shares.sum()).astype(np.int32)

    def pick(values: list[float]) -> np.ndarray:
        return np.asarray(values, dtype=np.float64)[seg]

    def beta(means: list[float], concentration: float = 25.0) -> np.ndarray:
        m = pick(means)
        return rng.beta(m * concentration, (1 - m) * concentration)

    age = np.clip(rng.normal(pick(_AGE[0]), pick(_AGE[1])), 18, 90).round().astype(np.int64)
    tenure = np.maximum(1, rng.normal(pick(_TENURE), 0.25 * pick(_TENURE))).round()
    orders = rng.poisson(pick(_ORDERS))
    aov = np.exp(rng.normal(np.log(pick(_AOV)), 0.25)).round(2)
    spend = (orders * aov * np.exp(rng.normal(0.0, 0.1, n))).round(2)
    recency = rng.gamma(4.0, pick(_RECENCY) / 4.0).round()

    df = pd.DataFrame(
        {
            "customer_id": _ids("C", n),
            "email": _emails(rng, seg, n),
            "age": age,
            "tenure_months": tenure.astype(np.int64),
            "annual_spend": spend,
            "orders_per_year": orders.astype(np.int64),
            "avg_order_value": aov,
            "web_visits_per_month": rng.poisson(pick(_WEB)).astype(np.float64),
            "app_sessions_per_month": rng.poisson(pick(_APP)).astype(np.int64),
            "email_open_rate": beta(_OPEN).round(3),
            "support_tickets": rng.poisson(pick(_TICKETS)).astype(np.int64),
            "discount_share": beta(_DISCOUNT).round(3),
            "days_since_last_order": recency.astype(np.int64),
            "return_rate": beta(_RETURNS, 40.0).round(3),
            "newsletter_subscriber": rng.random(n) < pick(_NEWSLETTER),
        }
    )
    for name, (levels, probs) in _CATEGORIES.items():
        df[name] = _categorical(rng, seg, levels, probs)
    df["region"] = pd.Categorical.from_codes(
        rng.integers(0, len(_REGIONS), n), categories=_REGIONS
    ).astype("str")
    signup_days = tenure * 30.44 + rng.uniform(0, 30, n)
    df["signup_date"] = (REFERENCE_DATE - pd.to_timedelta(signup_days.round(), unit="D")).astype(
        "datetime64[s]"
    )
    # a few percent missing, as in any real export
    for name, share in (("web_visits_per_month", 0.02), ("email_open_rate", 0.03)):
        df.loc[rng.random(n) < share, name] = np.nan
    return df, seg


def _categorical(
    rng: np.random.Generator, seg: np.ndarray, levels: list[str], probs: list[list[float]]
) -> pd.Series:
    """Draw one level per row from its segment's distribution (inverse CDF, vectorized)."""
    cdf = np.cumsum(np.asarray(probs, dtype=np.float64), axis=1)
    cdf /= cdf[:, -1:]
    codes = (rng.random(len(seg))[:, None] > cdf[seg]).sum(axis=1)
    codes = np.minimum(codes, len(levels) - 1)
    return pd.Series(pd.Categorical.from_codes(codes, categories=levels)).astype("str")


def _ids(prefix: str, n: int) -> pd.Series:
    width = max(6, len(str(n)))
    return prefix + pd.Series(np.arange(1, n + 1)).astype("str").str.zfill(width)


def _emails(rng: np.random.Generator, seg: np.ndarray, n: int) -> pd.Series:
    names = pd.Series(np.asarray(_FIRST_NAMES, dtype=object)[rng.integers(0, len(_FIRST_NAMES), n)])
    domains = _categorical(rng, seg, *_DOMAINS)
    # the row number makes every address unique
    return names.astype("str") + pd.Series(np.arange(1, n + 1)).astype("str") + "@" + domains


def ten_companies() -> pd.DataFrame:
    """The ten B2B accounts of the first essay: three visible groups for the demo story.

    Enterprise accounts (big, high contract value, many seats and tickets), fast-growing
    startups (small, heavy product usage) and mid-market accounts that barely use the product.
    """
    enterprise, growth, business = "Enterprise", "Growth", "Business"
    return pd.DataFrame(
        {
            "company": [
                "Acme Logistics", "Globex Bank", "Initech Insurance", "Umbrella Health",
                "Pixel Forge", "Brightleaf Labs", "Nimbus Analytics",
                "Hooli Retail", "Stark Manufacturing", "Wayne Foods",
            ],
            "employees": [12000, 25000, 8000, 15000, 45, 60, 30, 900, 1500, 700],
            "industry": [
                "Logistics", "Finance", "Finance", "Healthcare",
                "Software", "Software", "Software",
                "Retail", "Manufacturing", "Retail",
            ],
            "region": [
                "Americas", "Europe", "Americas", "Europe",
                "Europe", "Americas", "APAC",
                "Americas", "Europe", "APAC",
            ],
            "annual_contract_value": [
                420000, 610000, 350000, 480000, 18000, 24000, 12000, 90000, 110000, 75000,
            ],
            "seats": [900, 1400, 650, 1100, 40, 55, 25, 120, 150, 100],
            # share of seats active in a typical week
            "weekly_active_share": [0.55, 0.48, 0.52, 0.45, 0.92, 0.88, 0.95, 0.18, 0.12, 0.22],
            "usage_hours_per_seat": [6.0, 5.0, 5.5, 4.5, 22.0, 19.0, 25.0, 1.5, 1.0, 2.0],
            "support_tickets_per_quarter": [48, 61, 40, 55, 6, 8, 4, 14, 18, 11],
            "plan": [enterprise] * 4 + [growth] * 3 + [business] * 3,
        }
    )  # fmt: skip


COMPANY_KINDS: dict[str, str] = {
    "company": "id",
    "employees": "numeric",
    "industry": "categorical",
    "region": "categorical",
    "annual_contract_value": "numeric",
    "seats": "numeric",
    "weekly_active_share": "numeric",
    "usage_hours_per_seat": "numeric",
    "support_tickets_per_quarter": "numeric",
    "plan": "categorical",
}
"""The kind of every column of ``ten_companies``' table."""
