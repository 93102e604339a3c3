// RUN: rducc opt %s -p 'rdu-layer-loop{layers=3 carry=0,0 per-layer=1}' | filecheck %s
// RUN: rducc opt %s -p 'rdu-layer-loop{layers=3 carry=0,0 per-layer=1}' | rducc opt -p 'rdu-layer-loop{layers=3 carry=0,0 per-layer=1}' | filecheck %s
// RUN: (rducc opt %s -p 'rdu-layer-loop{layers=3 carry=0,0 per-layer=1}' | rducc opt -p 'rdu-layer-loop{layers=4 carry=0,0 per-layer=1}' 2>&1; test $? -eq 2) | filecheck %s --check-prefix=AGAIN
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-layer-loop{layers=3 carry=0,0 per-layer=1},rdu-lower,rdu-plan-memory' | filecheck %s --check-prefix=LOWERED
// RUN: rducc opt %s -p 'rdu-layer-loop{layers=1}' | filecheck %s --check-prefix=ONE
// RUN: (rducc opt %s -p 'rdu-layer-loop{layers=3 carry=0,1}' 2>&1; test $? -eq 2) | filecheck %s --check-prefix=SHAPE
// RUN: (rducc opt %s -p 'rdu-layer-loop{layers=0}' 2>&1; test $? -eq 2) | filecheck %s --check-prefix=ZERO
// RUN: (rducc opt %s -p 'rdu-layer-loop{layers=2 carry=1,0}' 2>&1; test $? -eq 2) | filecheck %s --check-prefix=RANGE
// RUN: (rducc opt %s -p 'rdu-layer-loop{layers=2 carry=0,0 per-layer=0}' 2>&1; test $? -eq 2) | filecheck %s --check-prefix=BOTH
// A layer of a loop: result 0 (the hidden state) is argument 0 of the next layer, argument 1 (a
// cache) is each layer's own, and so is the weight. The loop is an attribute of the module that
// every later pass keeps; the backend writes it as the bitstream's LOOP section.

func.func @forward(%x: tensor<4x8xf32>, %c: tensor<2x8xf32>) -> tensor<4x8xf32> {
  %w = rgraph.weight "w" : tensor<8x8xf32>
  %0 = rgraph.linear %x, %w : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  func.return %0 : tensor<4x8xf32>
}

// CHECK: builtin.module attributes {rdu.layer_loop = #rdu.layer_loop<layers 3, carry [0 -> 0], per_layer [1], launch hardware>} {
// CHECK-NEXT: func.func @forward

// LOWERED: builtin.module attributes {rdu.target = #rdu.target<"small">, rdu.layer_loop = #rdu.layer_loop<layers 3, carry [0 -> 0], per_layer [1], launch hardware>} {
// LOWERED: rdu.tensor "w" {role = #rdu.role<weight>, tier = #rdu.tier<hbm>
// LOWERED: rdu.kernel

// ONE-NOT: rdu.layer_loop
// ONE: func.func @forward

// SHAPE: error: rdu-layer-loop{layers=3}: carries result 0 (f32 (4, 8)) into argument 1 (f32 (2, 8)): a carried value must keep its dtype and shape
// ZERO: error: rdu-layer-loop{layers=0}: a layer loop runs at least 1 layer, got 0
// RANGE: error: rdu-layer-loop{layers=2}: carries result 1, but the function has 1 result(s)
// BOTH: error: rdu-layer-loop{layers=2}: argument 0 is both carried and per layer
// AGAIN: error: rdu-layer-loop{layers=4}: the module is already a loop (3 layers)
