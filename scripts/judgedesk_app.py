"""The PyInstaller entry script of the desktop bundle (build.spec): judgedesk-desktop's `main`, nothing else."""

import sys

from judgedesk.desktop import main

if __name__ == "__main__":
    sys.exit(main())
