"""segtrail: segment customers and keep the thread from every tactic to its hypothesis."""

# The single source of the version (pyproject.toml reads it from here); a literal, because
# importlib.metadata costs 30 ms at every command's start.
__version__ = "0.1.0"

__all__ = ["Workspace", "__version__"]


def __getattr__(name: str):
    # Lazy import keeps `import segtrail` cheap for the CLI's start-up.
    if name == "Workspace":
        from segtrail.services.workspace import Workspace

        return Workspace
    raise AttributeError(name)
