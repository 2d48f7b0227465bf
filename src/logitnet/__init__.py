"""logitnet: logistic regression as a neural network, as dependable software."""

__version__ = "0.1.0"
