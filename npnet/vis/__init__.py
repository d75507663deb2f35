"""Network visualisation and attribution on SqueezeNet (CS231n "Network Visualization").

    from npnet.vis import compute_saliency_maps, grad_cam, make_fooling_image, create_class_visualization

``saliency``: gradient maps (saliency, SmoothGrad, guided backprop, Grad-CAM and friends);
``attribution``: integrated gradients, occlusion, the model randomisation sanity check;
``synthesis``: fooling images and class visualisation; ``activations``: filters, activation maps, receptive
fields, maximally activating patches, nearest neighbours and embeddings; ``neurons``: the gradient of one
unit and gradient ascent on a unit or channel; ``multifaceted``: k-means facets of a class and their
centre-biased visualisations (Nguyen et al. 2016); ``figures``: the PNGs; ``commands``: the CLI verbs.
"""
from .activations import (activation_grid, filter_grid, layer_activations, max_activating_patches,
                          nearest_neighbours, pca, pooled_features, receptive_field, tsne)
from .attribution import (format_randomization_table, integrated_gradients, integration_nodes,
                          model_randomization_test, occlusion)
from .multifaceted import (Facets, assign_naive, centre_mask, class_facets, facet_visualization, kmeans,
                           kmeans_plus_plus, multifaceted_visualization)
from .neurons import unit_gradient, unit_visualization
from .saliency import (compute_saliency_maps, grad_cam, grad_cam_plus_plus, guided_backprop, guided_grad_cam,
                       resize_bilinear, smoothgrad)
from .synthesis import class_visualization_update_step, create_class_visualization, make_fool_image, make_fooling_image

__all__ = ["compute_saliency_maps", "smoothgrad", "guided_backprop", "grad_cam", "grad_cam_plus_plus",
           "guided_grad_cam", "resize_bilinear", "integrated_gradients", "integration_nodes", "occlusion",
           "model_randomization_test", "format_randomization_table", "make_fooling_image", "make_fool_image",
           "class_visualization_update_step", "create_class_visualization", "filter_grid", "activation_grid",
           "layer_activations", "receptive_field", "max_activating_patches", "pooled_features", "nearest_neighbours",
           "pca", "tsne", "unit_gradient", "unit_visualization", "kmeans_plus_plus", "kmeans", "assign_naive",
           "centre_mask", "facet_visualization", "class_facets", "multifaceted_visualization", "Facets"]
