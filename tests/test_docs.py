"""The docs stay true: README snippets run, every public name has a Keras-style docstring."""

import inspect
import os
import re
import subprocess
import sys

import pytest

import textrecipes
from conftest import ROOT

README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
DOCS = {name: open(os.path.join(ROOT, "docs", name), encoding="utf-8").read()
        for name in sorted(os.listdir(os.path.join(ROOT, "docs"))) if name.endswith(".md")}
RECIPE_KEYS = os.path.join(ROOT, "docs", "recipes.md")  # the generated key table lives here
SNIPPETS = [snippet for text in [README, *DOCS.values()] for snippet in re.findall(r"```python\n(.*?)```", text, flags=re.S)]


def test_readme_opens_with_the_two_commands():
    first_block = re.search(r"```sh\n(.*?)```", README, flags=re.S).group(1)
    assert "make demo" in first_block and "make test" in first_block
    assert README.index("make demo") < 400


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_readme_python_snippets_run(index, tmp_path):
    done = subprocess.run([sys.executable, "-c", SNIPPETS[index]], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-3000:]


def test_readme_recipe_key_table_is_the_schemas():
    from textrecipes.recipe.docs import refresh_readme
    from textrecipes.recipe.schema import Table, iter_keys

    stale = refresh_readme(RECIPE_KEYS, check=True)
    assert not stale, "docs/recipes.md's recipe key table is stale: run `python -m textrecipes.recipe.docs`"
    table = open(RECIPE_KEYS, encoding="utf-8").read()
    for path, entry in iter_keys():
        if not (isinstance(entry, Table) and not entry.switch):  # every key and every callback has a row
            assert f"| `{'.'.join(path)}` |" in table, f"docs/recipes.md lacks recipe key {'.'.join(path)}"


def test_readme_stays_short_and_its_links_resolve():
    assert len(README.splitlines()) < 250
    for text, base in [(README, ROOT), *((t, os.path.join(ROOT, "docs")) for t in DOCS.values())]:
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            if not target.startswith("http"):
                assert os.path.exists(os.path.normpath(os.path.join(base, target))), target


@pytest.mark.parametrize("name", textrecipes.__all__)
def test_public_names_have_keras_style_docstrings(name):
    obj = getattr(textrecipes, name)
    doc = inspect.getdoc(obj) or ""
    assert doc and doc.splitlines()[0].strip(), f"{name} has no one-line summary"
    assert "Example" in doc, f"{name}'s docstring has no Example"
    params = [p for p in inspect.signature(obj).parameters if p not in ("self", "args", "kwargs")] if callable(obj) else []
    if params:
        assert "Args:" in doc, f"{name}'s docstring has no Args: section"


def test_every_public_function_and_class_in_every_module_is_documented():
    import importlib
    import pkgutil

    bad = []
    for info in pkgutil.iter_modules(textrecipes.__path__):
        module = importlib.import_module(f"textrecipes.{info.name}")
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", None) != module.__name__:
                continue  # imported from elsewhere: checked where it is defined
            doc = inspect.getdoc(obj) or ""
            missing = []
            if not doc:
                missing.append("docstring")
            elif "Example" not in doc:
                missing.append("Example")
            if doc and callable(obj):
                try:
                    params = [p for p in inspect.signature(obj).parameters if p not in ("self", "args", "kwargs")]
                except (TypeError, ValueError):
                    params = []
                if params and "Args:" not in doc:
                    missing.append("Args:")
            if missing:
                bad.append(f"{info.name}.{name}: lacks {', '.join(missing)}")
    assert not bad, "public names without a Keras-style docstring:\n" + "\n".join(bad)
