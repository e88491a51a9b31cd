from hftlab.cli import main

main()
