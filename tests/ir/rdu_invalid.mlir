// RUN: rducc opt %s --split-input-file --verify-diagnostics | filecheck %s
// One case per rdu verifier rule; each must fail with the message in its CHECK line
// (tests/test_rdu_dialect.py also checks each case on its own).

builtin.module attributes {rdu.target = #rdu.target<"small">} {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>} : !rdu.mem<4xf32>
}
// CHECK: rdu.tensor: an input needs an index

// -----

builtin.module {
  %0 = rdu.tensor "t" {role = #rdu.role<activation>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
}
// CHECK: rdu.tensor: role activation has no index (only inputs and outputs do)

// -----

builtin.module {
  %0 = rdu.tensor "c" {role = #rdu.role<constant>, tier = #rdu.tier<hbm>} : !rdu.mem<f32>
}
// CHECK: rdu.tensor: a constant needs an integer or float value

// -----

builtin.module {
  %0 = rdu.tensor "t" {role = #rdu.role<activation>, tier = #rdu.tier<hbm>, value = 1.0 : f32} : !rdu.mem<f32>
}
// CHECK: rdu.tensor: an activation has no value

// -----

builtin.module {
  %0 = rdu.tensor "w" {role = #rdu.role<weight>, tier = #rdu.tier<hbm>, value = 1.0 : f32} : !rdu.mem<f32>
}
// CHECK: rdu.tensor: a weight's value must be a dense resource

// -----

builtin.module {
  %0 = rdu.tensor "w" {role = #rdu.role<weight>, tier = #rdu.tier<hbm>, value = dense_resource<w> : tensor<4xf16>} : !rdu.mem<4xf32>
}
// CHECK: rdu.tensor: weight value of type tensor<4xf16> does not match !rdu.mem<4xf32>

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  %1 = rdu.load %0 {units = 1 : i64} : !rdu.mem<4xf32> -> !rdu.stream<4xf32>
}
// CHECK: rdu.load: a stage must sit inside an rdu.kernel

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 0 : i64} : !rdu.mem<4xf32> -> !rdu.stream<4xf32>
  }
}
// CHECK: rdu.load: needs at least one unit

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 2 : i64, sites = #rdu.sites<(0, 0)>} : !rdu.mem<4xf32> -> !rdu.stream<4xf32>
  }
}
// CHECK: rdu.load: 2 units but 1 sites

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64, tiles = array<i64: 8, 8>} : !rdu.mem<4xf32> -> !rdu.stream<4xf32>
  }
}
// CHECK: rdu.load: 1 output streams but 2 tile sizes

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64, routes = []} : !rdu.mem<4xf32> -> !rdu.stream<4xf32>
  }
}
// CHECK: rdu.load: 1 output streams but 0 routes

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64, routes = [#rdu.route<vector, hops [1, 2], links []>]} : !rdu.mem<4xf32> -> !rdu.stream<4xf32>
    %2 = rdu.buffer %1 {units = 1 : i64, bytes = 32 : i64, tile_bytes = 16 : i64} : !rdu.stream<4xf32>
  }
}
// CHECK: rdu.load: a stream read by 1 stages has a route with 2 hop counts

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64} : !rdu.mem<4xf32> -> !rdu.stream<8xf32>
  }
}
// CHECK: rdu.load: stream and tensor differ in shape or element type

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  %1 = rdu.tensor "y" {role = #rdu.role<output>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xi32>
  rdu.kernel "k0" {
    %2 = rdu.load %0 {units = 1 : i64} : !rdu.mem<4xf32> -> !rdu.stream<4xf32>
    rdu.store %2 to %1 {units = 1 : i64} : !rdu.stream<4xf32> -> !rdu.mem<4xi32>
  }
}
// CHECK: rdu.store: stream and tensor differ in shape or element type

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  %1 = rdu.tensor "y" {role = #rdu.role<output>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  rdu.kernel "k0" {
    "rdu.store"(%0, %1) <{units = 1 : i64}> : (!rdu.mem<4xf32>, !rdu.mem<4xf32>) -> ()
  }
}
// CHECK: operand 'value' at position 0 does not verify

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64} : !rdu.mem<4xf32> -> !rdu.stream<4xf32>
    %2 = "rdu.buffer"(%1) <{units = 1 : i64, bytes = 32 : i64, tile_bytes = 16 : i64}> : (!rdu.stream<4xf32>) -> !rdu.stream<4xf16>
  }
}
// CHECK: attribute !rdu.stream<4xf32> expected from variable 'T', but got !rdu.stream<4xf16>

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64} : !rdu.mem<4xf32> -> !rdu.stream<4xf32>
    %2 = rdu.compute "frobnicate"(%1) {unit = #rdu.unit<pcu>, params = {}, units = 1 : i64} : (!rdu.stream<4xf32>) -> !rdu.stream<4xf32>
  }
}
// CHECK: rdu.compute: unknown opcode 'frobnicate'

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64} : !rdu.mem<4xf32> -> !rdu.stream<4xf32>
    %2 = rdu.compute "exp"(%1) {unit = #rdu.unit<pmu>, params = {}, units = 1 : i64} : (!rdu.stream<4xf32>) -> !rdu.stream<4xf32>
  }
}
// CHECK: rdu.compute: exp runs on a pcu, not a pmu

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64} : !rdu.mem<4xf32> -> !rdu.stream<4xf32>
    %2 = rdu.compute "buffer"(%1) {unit = #rdu.unit<pmu>, params = {}, units = 1 : i64} : (!rdu.stream<4xf32>) -> !rdu.stream<4xf32>
  }
}
// CHECK: rdu.compute: buffer is a memory opcode; use rdu.load/store/buffer

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  rdu.kernel "k0" {
    %1 = "rdu.compute"(%0) <{opcode = "exp", unit = #rdu.unit<pcu>, params = {}, units = 1 : i64}> : (!rdu.mem<4xf32>) -> !rdu.stream<4xf32>
  }
}
// CHECK: operand 'inputs' at position 0 does not verify

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  rdu.kernel "k0" {
    %1 = rdu.tensor "y" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 1 : i64} : !rdu.mem<4xf32>
  }
}
// CHECK: rdu.kernel: rdu.tensor is not a stage

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<?xf32>
}
// CHECK: rdu.mem: dimensions must be static and non-negative

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64} : !rdu.mem<4xf32> -> !rdu.stream<4xf32>
    %2 = rdu.compute "exp"(%1) {unit = #rdu.unit<pcu>, params = {bogus = "x"}, units = 1 : i64} : (!rdu.stream<4xf32>) -> !rdu.stream<4xf32>
  }
}
// CHECK: rdu.compute: exp: unknown parameter 'bogus'

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64} : !rdu.mem<4xf32> -> !rdu.stream<4xf32>
    %2 = rdu.compute "add"(%1) {unit = #rdu.unit<pcu>, params = {}, units = 1 : i64} : (!rdu.stream<4xf32>) -> !rdu.stream<4xf32>
  }
}
// CHECK: rdu.compute: add takes 2 inputs, got 1

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64} : !rdu.mem<4xf32> -> !rdu.stream<4xf32>
    %2 = rdu.compute "exp"(%1) {unit = #rdu.unit<pcu>, params = {}, units = 1 : i64} : (!rdu.stream<4xf32>) -> !rdu.stream<4x9xf32>
  }
}
// CHECK: rdu.compute: exp: result shape (4, 9) should be (4,)

// -----

builtin.module {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64} : !rdu.mem<4xf32> -> !rdu.stream<4xf32>
    %2 = rdu.compute "exp"(%1) {unit = #rdu.unit<pcu>, params = {}, units = 1 : i64} : (!rdu.stream<4xf32>) -> !rdu.stream<4xi64>
  }
}
// CHECK: rdu.compute: exp: result dtype i64 should be f32

// -----

builtin.module attributes {rdu.placement = #rdu.placement<method "cp-sat windows", seed 0, kernels 2, distinct_kernels 2, wirelength 12, lower_bound 10, gap 0.166667, cp_sat [windows_solved 1, windows_improved 1, windows_proven_optimal 0, conflicts 5, branches 40], objective "multicast-hpwl", budgets [0.5], placed_with [0, 0]>} {
}
// CHECK: rdu.placement: budgets and placed_with need one entry per kernel each (2)

// -----

builtin.module attributes {rdu.placement = #rdu.placement<method "cp-sat windows", seed 0, kernels 2, distinct_kernels 2, wirelength 12, lower_bound 10, gap 0.166667, cp_sat [windows_solved 1, windows_improved 1, windows_proven_optimal 0, conflicts 5, branches 40], objective "multicast-hpwl", budgets [0.5, 0.5], placed_with [1, 1]>} {
}
// CHECK: rdu.placement: placed_with names a kernel at or before each kernel (the first of its class)
