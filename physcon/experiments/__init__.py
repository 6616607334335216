"""Paper reproductions and accuracy studies as functions: settings in, numbers and figures out."""
