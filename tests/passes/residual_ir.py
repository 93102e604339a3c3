"""A reconvergent residual in rgraph IR (x and a whole-value sum of x meet at an add) and the
pipeline up to FIFO sizing: the case the FIFO-liveness and spill tests size, prove or split."""

RESIDUAL = """
func.func @forward(%x: tensor<{n}x512xf32>) -> tensor<{n}x512xf32> {{
  %0 = rgraph.sum %x {{dims = array<i64: 0, 1>, keepdim = true}} : tensor<{n}x512xf32> -> tensor<1x1xf32>
  %1 = rgraph.add %x, %0 : (tensor<{n}x512xf32>, tensor<1x1xf32>) -> tensor<{n}x512xf32>
  func.return %1 : tensor<{n}x512xf32>
}}
"""
UP_TO_SIZING = "rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units,rdu-size-fifos"
