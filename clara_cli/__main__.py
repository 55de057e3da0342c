from clara_cli.main import main

main()
