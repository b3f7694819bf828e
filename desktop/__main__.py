"""`python -m judgedesk.desktop`."""

import sys

from judgedesk.desktop import main

sys.exit(main())
