from cgseq.main import main

raise SystemExit(main())
