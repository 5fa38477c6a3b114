from rcflow.cli.main import main

raise SystemExit(main())
