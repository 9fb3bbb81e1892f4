"""What is learnt: one module a task (classification, text pairs, sequence labelling, language modelling), each
supplying its data, model, loss, metrics, evaluation and export to the generic run harness.
"""
