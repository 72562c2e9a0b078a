# The README's two commands: `make run` and `make test`. Both set up from nothing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup run test data index eval clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

data: setup
	$(BIN)/chat-rec data fetch movielens-100k

index: data
	$(BIN)/chat-rec index build

## Open the terminal search on the embedded default (offline once set up).
run: index
	$(BIN)/chat-rec shell

## Set up and pass the tests.
test: setup
	$(BIN)/python -m pytest

eval: data
	$(BIN)/chat-rec eval chatrec-ml100k --seed 0 --out results/chatrec-ml100k.json

clean:
	rm -rf $(VENV) data/cache data/index
