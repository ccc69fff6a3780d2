"""segtrail: segment customers and keep the thread from every tactic to its hypothesis."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("segtrail")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["Workspace", "__version__"]


def __getattr__(name: str):
    # Lazy import keeps `import segtrail` cheap for the CLI's start-up.
    if name == "Workspace":
        from segtrail.services.workspace import Workspace

        return Workspace
    raise AttributeError(name)
