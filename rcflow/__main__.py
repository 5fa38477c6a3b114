from rcflow.entry import main

raise SystemExit(main())
