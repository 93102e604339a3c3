// RUN: (rducc opt %s -p 'rdu-target{chip=small},rdu-lower,rdu-tile' 2>&1; test $? -eq 2) | filecheck %s
// rdu-tile derives tile programs from the tile bytes and FIFO depths earlier passes chose.

func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = rgraph.neg %x : tensor<4xf32> -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}

// CHECK: error: rdu-tile: rdu.load in kernel k0_neg has no tile sizes or FIFO depths: run rdu-allocate-units and rdu-size-fifos first
