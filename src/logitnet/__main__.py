"""``python -m logitnet``: the same as the ``logitnet`` command."""

from logitnet.cli import main

raise SystemExit(main())
