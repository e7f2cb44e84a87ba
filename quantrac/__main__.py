from quantrac.cli import main

main()
