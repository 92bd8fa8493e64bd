"""The churn model shared by the train job and the model API."""
