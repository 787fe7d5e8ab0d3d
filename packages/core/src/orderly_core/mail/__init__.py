"""Mail: the emails Orderly sends to people, each recorded until it is sent or dead."""
