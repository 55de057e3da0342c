"""The model repository: named models stored as folders that operators read (`models: [{name}]`)."""
