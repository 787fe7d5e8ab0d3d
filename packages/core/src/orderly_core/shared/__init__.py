"""Values and rules every context shares: the execution context, errors, money, input
validation, paging and who may do what."""
