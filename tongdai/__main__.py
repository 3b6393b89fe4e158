from tongdai.cli import main

main()
