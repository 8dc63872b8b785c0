"""Stage eval: metrics (segmentation from a confusion matrix, PSNR/SSIM/LPIPS), view consistency,
frame rates, result tables and figures (``rtgs2 eval``), the whole table from nothing
(``rtgs2 reproduce``), linear probes of features and reports on built data sets. It runs the code
of the stages before it (data, train, pipeline); only the CLI comes after it.

Import the modules themselves (``from rtgs2.eval.metrics import segmentation_metrics``): this
package imports nothing, so the configs the CLI reads stay light.
"""
