# expect: (none)
# The base world as it is.
