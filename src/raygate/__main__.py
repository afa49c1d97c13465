"""``python -m raygate`` runs the same CLI as the ``raygate`` console script."""

from raygate.cli import main

if __name__ == "__main__":
    main()
