# WordNet 3.0 for synonym replacement (textrecipes.augment.eda), without nltk.download.
# Included from the main Makefile, which defines VENV. `make wordnet` installs
# Debian's wordnet-base and wordnet-sense-index (only if /usr/share/wordnet is
# missing) and copies them into an NLTK data folder, data/nltk_data, where
# textrecipes.augment.synonyms.WordNetSynonyms finds it. Running it again does nothing.
# Users who already have nltk_data/corpora/wordnet (nltk.download) need none of this.

WORDNET_DEB_DIR ?= /usr/share/wordnet
WORDNET_NLTK_DATA ?= data/nltk_data
WORDNET_APT_PACKAGES := wordnet-base wordnet-sense-index
# apt-get needs root: use sudo unless we already are root.
WORDNET_SUDO ?= $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: wordnet
wordnet: $(WORDNET_NLTK_DATA)/corpora/wordnet/lexnames

# lexnames is written last by textrecipes.augment.wordnet_data, so it marks a complete folder.
$(WORDNET_NLTK_DATA)/corpora/wordnet/lexnames:
	@if [ ! -f $(WORDNET_DEB_DIR)/data.noun ]; then \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "wordnet: $(WORDNET_DEB_DIR)/data.noun is missing and apt-get is not available;"; \
	    echo "  run 'python -m nltk.downloader wordnet' (online) or set WORDNET_DEB_DIR"; \
	    exit 1; \
	  fi; \
	  echo "wordnet: installing $(WORDNET_APT_PACKAGES) with apt-get"; \
	  $(WORDNET_SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(WORDNET_APT_PACKAGES) \
	  || { $(WORDNET_SUDO) apt-get update \
	       && $(WORDNET_SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(WORDNET_APT_PACKAGES); }; \
	fi
	$(VENV)/bin/python -m textrecipes.augment.wordnet_data $(WORDNET_NLTK_DATA) --source $(WORDNET_DEB_DIR)
