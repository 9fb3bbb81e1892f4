"""Stage 3, text → ids → batches: tokenization written once as TensorFlow string ops (the same in ``tf.data``
and in the export), the vocabulary, the vectorizer layer, the ``tf.data`` pipeline and pretrained word vectors.
"""
