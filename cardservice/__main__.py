"""`python -m cardservice ...`: the same command line as the `cardservice` script."""

from cardservice.cli import main

if __name__ == "__main__":
    main()
