"""Numerical gradient checks for every npnet layer, loss and model (``python -m gradcheck``)."""
from .numeric import (check_backward, eval_numerical_gradient, eval_numerical_gradient_array,
                      grad_check_sparse, rel_error)
from .registry import CHECKS, layer_error, loss_error, module_error, register, run_check, select

__all__ = ["rel_error", "eval_numerical_gradient", "eval_numerical_gradient_array", "grad_check_sparse",
           "check_backward", "register", "select", "run_check", "layer_error", "loss_error", "module_error",
           "CHECKS"]
