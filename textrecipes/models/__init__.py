"""Stage 4, the models: Keras layers and builders over token ids (the Embedding-LSTM-Dropout classifier and
its siblings, the pair encoder, the tagger, the language model), each saving and reloading through ``get_config``.
"""
