# The README's two commands: `make run` and `make test`. Both set up from nothing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# llama-cpp-python builds from source; the native build crashes in the AMX kernel on these CPUs.
export CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON

.PHONY: setup run chat test lint data index llm reranker ranker redial eval bench clean

# `make run` installs what the chat needs (the package and the local LLM); `make setup` (and so `make test`) adds
# the tests, training and LIME. --no-compile: Python compiles what it imports, so a first start does not wait
# for every installed module to be byte-compiled (about 40 s on two cores).
$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --no-compile -e '.[local-llm]'
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml $(RUN_STAMP)
	$(BIN)/pip install --no-compile -e '.[test,local-llm,train,lime,postgres]'
	touch $(STAMP)

setup: $(STAMP)

data: setup
	$(BIN)/chat-rec data fetch movielens-100k

index: data
	$(BIN)/chat-rec index build

llm: setup
	$(BIN)/chat-rec llm fetch

## Serve the browser chat on http://127.0.0.1:7860 (embedded default, offline once set up).
## app.py itself fetches the data and the local LLM and builds the index when they are missing.
run: $(RUN_STAMP)
	$(BIN)/python app.py

## The same chat in the terminal.
chat: index llm
	$(BIN)/chat-rec chat

## Set up, lint (ruff, line length 119) and pass the tests.
test: setup llm lint
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Rebuild the packaged ranker, every part in order: the fusion on the team's dialogues and MovieLens, then the
## 👍/👎 head (people judging by their own ratings, one half of the users); needs ../shared/data. The package
## ships the result, so `make run` does not need this. A refit of your own: `chat-rec train ranker --out
## data/models/ranker.json` (it then serves instead of the packaged weights).
ranker: index
	$(BIN)/chat-rec train ranker --all --no-reranker --seed 0 --out chat_rec/recommender/ranker.json

## Rebuild the packaged ReDial catalog (CHATREC_CATALOG=redial): its films, written facts and training dialogues,
## then its ranker fitted on the ReDial and INSPIRED training dialogues (about 30 minutes on 2 cores); needs
## ../shared/data. The package ships the result.
redial: setup
	$(BIN)/chat-rec data pack-redial
	OMP_NUM_THREADS=1 $(BIN)/chat-rec train ranker --catalog redial --seed 0 --out chat_rec/recommender/ranker-redial.json

## The BERT context re-ranker (about 20 minutes on 2 cores; resumes when interrupted).
reranker: data
	test -f data/models/reranker.pt || $(BIN)/chat-rec train reranker

eval: reranker
	$(BIN)/chat-rec eval chatrec-ml100k --seed 0 --out results/chatrec-ml100k.json

bench: index llm reranker
	$(BIN)/chat-rec bench turn --llm none
	$(BIN)/chat-rec bench turn --llm local
	$(BIN)/chat-rec bench rerank

clean:
	rm -rf $(VENV) data/cache data/index
