from omnisched.cli import main

raise SystemExit(main())
