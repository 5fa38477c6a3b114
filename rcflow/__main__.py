from rcflow.cli import main

raise SystemExit(main())
