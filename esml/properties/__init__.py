"""Property prediction for molecules: representations (qmllib, dscribe), kernel ridge regression
with cross-validated hyperparameters, and learning curves on the stored QM7 / QM9 splits."""
