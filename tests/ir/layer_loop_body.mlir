// A whole step whose loop is one module's ops (rdu-layer-loop{body=...}): the prologue (embedding)
// and epilogue (head, argmax) run once, the body's kernels are the loop (docs/node.md).
// RUN: rducc opt %s -p 'rdu-layer-loop{layers=3 body="layers.0" per-layer=1}' | filecheck %s
// RUN: rducc opt %s -p 'rdu-layer-loop{layers=3 body="layers.0" per-layer=1}' | rducc opt -p 'rdu-layer-loop{layers=3 body="layers.0" per-layer=1}' | filecheck %s
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-layer-loop{layers=3 body="layers.0" per-layer=1},rdu-fuse,rdu-lower' | filecheck %s --check-prefix=KERNELS
// RUN: (rducc opt %s -p 'rdu-layer-loop{layers=3 body="layers.9"}' 2>&1; test $? -eq 2) | filecheck %s --check-prefix=NOBODY
// RUN: (rducc opt %s -p 'rdu-layer-loop{layers=3 body="layers.0" per-layer=0}' 2>&1; test $? -eq 2) | filecheck %s --check-prefix=OUTSIDE
// RUN: (rducc opt %s -p 'rdu-layer-loop{layers=3 body="head"}' 2>&1; test $? -eq 2) | filecheck %s --check-prefix=CARRY

// CHECK: rdu.layer_loop = #rdu.layer_loop<layers 3, carry [], per_layer [1], launch hardware, body "layers.0">
// KERNELS: rdu.kernel "embed"
// KERNELS: rdu.kernel "layers.0"
// KERNELS: rdu.kernel "head"
// NOBODY: error: rdu-layer-loop{layers=3}: no op of the function comes from module 'layers.9' (the body)
// OUTSIDE: error: rdu-layer-loop{layers=3}: argument 0 is per layer but is read outside the body 'layers.0'
// CARRY: error: rdu-layer-loop{layers=3}: the body 'head' takes f32 (1, 1, 4) and gives i64 (1, 1): a carried value must keep its dtype and shape

builtin.module {
  func.func @forward(%token : tensor<1x1xi64>, %bias : tensor<1x1x4xf32>) -> tensor<1x1xi64> {
    %e = rgraph.weight "embed.weight" : tensor<8x4xf32>
    %w = rgraph.weight "layers.0.lin.weight" : tensor<4x4xf32>
    %h = rgraph.weight "head.weight" : tensor<8x4xf32>
    %x = rgraph.embedding %e, %token : (tensor<8x4xf32>, tensor<1x1xi64>) -> tensor<1x1x4xf32> loc("embed"("step.py":1:0))
    %y = rgraph.linear %x, %w : (tensor<1x1x4xf32>, tensor<4x4xf32>) -> tensor<1x1x4xf32> loc("layers.0.lin"("step.py":2:0))
    %z = rgraph.add %y, %bias : (tensor<1x1x4xf32>, tensor<1x1x4xf32>) -> tensor<1x1x4xf32> loc("layers.0"("step.py":3:0))
    %l = rgraph.linear %z, %h : (tensor<1x1x4xf32>, tensor<8x4xf32>) -> tensor<1x1x8xf32> loc("head"("step.py":4:0))
    %a = rgraph.argmax %l {dim = -1 : i64, keepdim = false} : tensor<1x1x8xf32> -> tensor<1x1xi64> loc("head"("step.py":5:0))
    func.return %a : tensor<1x1xi64>
  }
}
