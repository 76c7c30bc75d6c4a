"""Build the portable tree kernel into a directory, for an image without a C compiler:

    python -m gridstream.core.forecasting.kernel_build /opt/gridstream/kernels

and point ``GRIDSTREAM_KERNEL_PREBUILT`` at that directory (see ``tree_kernel``).
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        print(
            "usage: python -m gridstream.core.forecasting.kernel_build OUTPUT_DIR", file=sys.stderr
        )
        return 2
    from gridstream.core.forecasting.tree_kernel import build_portable

    print(build_portable(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
