from classhub_desktop.cli import main

raise SystemExit(main())
