"""Gradient CAMs whose backward pass stops at the target layer.

pytorch-grad-cam's ``BaseCAM.forward`` runs the whole model under autograd and calls
``loss.backward()``: every parameter's gradient is computed, and the backward runs down through
all layers below the target layer, although a CAM needs only ∂loss/∂A for the target layer's
output A. :class:`TargetLayerBackward` changes only how that gradient is obtained:

- the layers below the target run under ``torch.no_grad()`` (no graph is recorded there);
- the target layer's output A is replaced (in a forward hook) by a leaf tensor that requires
  grad, and autograd is switched on from there to the model's outputs;
- the gradient is taken with ``torch.autograd.grad(loss, [A])``: autograd computes only what
  leads to A, so no parameter gradient is computed (``requires_grad`` of the parameters is left
  as it is, and no ``.grad`` is written).

∂loss/∂A does not depend on what lies below A, and the forward values are unchanged, so the
CAM equals the library's own output (the tests check this to 1e-5); the library's hooks, CAM
formulas and scaling run unmodified. Methods that need the input's or every bias's gradient
(FullGrad) and gradient-free methods run the library's own forward.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch
from pytorch_grad_cam.base_cam import BaseCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget


class TargetLayerNotReachedError(RuntimeError):
    """The target layer did not run, or its output is not a tensor."""


class TargetLayerBackward:
    """Mixin placed before a pytorch-grad-cam class: gradients stop at the target layers."""

    def forward(
        self: BaseCAM,
        input_tensor: torch.Tensor,
        targets: list | None,
        eigen_smooth: bool = False,
    ) -> np.ndarray:
        if not self.uses_gradients or self.compute_input_gradient or not self.detach:
            return super().forward(input_tensor, targets, eigen_smooth)
        input_tensor = input_tensor.to(self.device)
        stops: list[torch.Tensor] = []

        def stop_here(module: torch.nn.Module, args: tuple, output: object) -> object:
            """Make the output a leaf (first target reached) or record it (later targets)."""
            if not isinstance(output, torch.Tensor):
                return None
            if output.requires_grad and stops:  # above an earlier target: keep the path to it
                stops.append(output)
                return None
            torch.set_grad_enabled(True)  # the enclosing no_grad() restores the mode on exit
            leaf = output.detach().requires_grad_(True)
            stops.append(leaf)
            return leaf.clone()  # a non-leaf, so in-place ops of the model above stay legal

        handles = [
            layer.register_forward_hook(stop_here, prepend=True) for layer in self.target_layers
        ]
        try:
            with torch.no_grad():
                self.outputs = outputs = self.activations_and_grads(input_tensor)
        finally:
            for handle in handles:
                handle.remove()
        if not stops:
            raise TargetLayerNotReachedError(
                "The target layer did not run or does not output a single tensor: its "
                "gradient cannot be taken."
            )
        if targets is None:
            categories = np.argmax(outputs.detach().cpu().numpy(), axis=-1)
            targets = [ClassifierOutputTarget(int(category)) for category in categories]
        with torch.enable_grad():
            loss = sum(target(output) for target, output in zip(targets, outputs, strict=False))
        if not (isinstance(loss, torch.Tensor) and loss.requires_grad):
            raise TargetLayerNotReachedError(
                "The CAM target does not depend on the target layer's output: no gradient."
            )
        torch.autograd.grad(loss, stops)
        cam_per_layer = self.compute_cam_per_layer(input_tensor, targets, eigen_smooth)
        return self.aggregate_multi_layers(cam_per_layer)


@cache
def stop_at_target(cam_class: type[BaseCAM]) -> type[BaseCAM]:
    """``cam_class`` with :class:`TargetLayerBackward` (one subclass per class, cached)."""
    if issubclass(cam_class, TargetLayerBackward):
        return cam_class
    return type(f"Fast{cam_class.__name__}", (TargetLayerBackward, cam_class), {})
