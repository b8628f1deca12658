"""Tools that are not the product (GPU carry, migrations). Run from the repository root:
`python -m scripts.<name>`; shell scripts: `bash scripts/<name>.sh`."""
