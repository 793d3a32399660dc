"""``python -m worker [options]``: a Runwire Temporal worker (same as ``runwire worker``)."""

import sys

from service.cli import main

if __name__ == "__main__":
    main(["worker", *sys.argv[1:]])
