"""Network visualisation and attribution on SqueezeNet (CS231n "Network Visualization").

    from npnet.vis import compute_saliency_maps, grad_cam, make_fooling_image, create_class_visualization

``saliency``: gradient maps (saliency, SmoothGrad, guided backprop, Grad-CAM and friends);
``attribution``: integrated gradients, occlusion, the model randomisation sanity check;
``synthesis``: fooling images and class visualisation; ``figures``: the PNGs; ``commands``: the CLI verbs.
"""
from .attribution import (format_randomization_table, integrated_gradients, integration_nodes,
                          model_randomization_test, occlusion)
from .saliency import (compute_saliency_maps, grad_cam, grad_cam_plus_plus, guided_backprop, guided_grad_cam,
                       resize_bilinear, smoothgrad)
from .synthesis import class_visualization_update_step, create_class_visualization, make_fool_image, make_fooling_image

__all__ = ["compute_saliency_maps", "smoothgrad", "guided_backprop", "grad_cam", "grad_cam_plus_plus",
           "guided_grad_cam", "resize_bilinear", "integrated_gradients", "integration_nodes", "occlusion",
           "model_randomization_test", "format_randomization_table", "make_fooling_image", "make_fool_image",
           "class_visualization_update_step", "create_class_visualization"]
