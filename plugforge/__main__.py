from plugforge.cli import main

main(prog_name="plugforge")
