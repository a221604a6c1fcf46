"""`python -m cli` is the `jetdeck` command, for a process that knows only its interpreter."""

from cli.main import app

if __name__ == "__main__":
    app()
