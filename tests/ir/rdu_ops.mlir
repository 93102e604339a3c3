// RUN: rducc opt %s | rducc opt - | filecheck %s
// RUN: rducc opt %s --print-op-generic | rducc opt - | filecheck %s
// Every rdu op, type and attribute prints and parses back to itself.

builtin.module @m attributes {rdu.target = #rdu.target<"small">, rdu.placement = #rdu.placement<method "cp-sat windows", seed 3, kernels 1, distinct_kernels 1, wirelength 12, lower_bound 10, gap 0.166667, cp_sat [windows_solved 1, windows_improved 1, windows_proven_optimal 0, conflicts 5, branches 40], objective "multicast-hpwl", budgets [0.25], placed_with [0]>} {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64, offset = 0 : i64} : !rdu.mem<2x4xf32>
  %1 = rdu.tensor "c" {role = #rdu.role<constant>, tier = #rdu.tier<ddr>, value = 1.5 : f64, offset = 64 : i64} : !rdu.mem<f32>
  %2 = rdu.tensor "w" {role = #rdu.role<weight>, tier = #rdu.tier<hbm>, value = dense_resource<w_blob> : tensor<2x4xf32>, offset = 128 : i64} : !rdu.mem<2x4xf32>
  %3 = rdu.tensor "t0" {role = #rdu.role<activation>, tier = #rdu.tier<hbm>, offset = 192 : i64} : !rdu.mem<2x4xf32>
  %4 = rdu.tensor "output0" {role = #rdu.role<output>, tier = #rdu.tier<hbm>, index = 0 : i64, offset = 256 : i64} : !rdu.mem<2x2xi64>
  rdu.kernel "k0" attributes {section = 0 : i64} {
    %5 = rdu.load %0 {units = 2 : i64, tiles = array<i64: 32>, sites = #rdu.sites<(0, 0), (0, 1)>, routes = [#rdu.route<vector, hops [1], links [(0, 0) -> (1, 0)]>]} : !rdu.mem<2x4xf32> -> !rdu.stream<2x4xf32>
    %6 = rdu.buffer %5 {units = 1 : i64, bytes = 64 : i64, tile_bytes = 32 : i64, tiles = array<i64: 32>, sites = #rdu.sites<(1, 0)>, routes = [#rdu.route<vector, hops [1], links [(1, 0) -> (1, 1)]>]} : !rdu.stream<2x4xf32>
    %7 = rdu.load %1 {units = 1 : i64, tiles = array<i64: 4>, sites = #rdu.sites<(0, 2)>, routes = [#rdu.route<vector, hops [1], links [(0, 2) -> (1, 2)]>]} : !rdu.mem<f32> -> !rdu.stream<f32>
    %8 = rdu.buffer %7 {units = 1 : i64, bytes = 8 : i64, tile_bytes = 4 : i64, tiles = array<i64: 4>, sites = #rdu.sites<(1, 2)>, routes = [#rdu.route<scalar, hops [1], links [(1, 2) -> (1, 1)]>]} : !rdu.stream<f32>
    %9 = rdu.compute "mul"(%6, %8) {unit = #rdu.unit<pcu>, params = {}, units = 1 : i64, tiles = array<i64: 32>, sites = #rdu.sites<(1, 1)>, routes = [#rdu.route<vector, hops [0, 1], links [(1, 1) -> (2, 1)]>]} : (!rdu.stream<2x4xf32>, !rdu.stream<f32>) -> !rdu.stream<2x4xf32>
    %10, %11 = rdu.compute "topk"(%9) {unit = #rdu.unit<pcu>, params = {k = 2 : i64, dim = 1 : i64, largest = true, sorted = true}, units = 1 : i64, tiles = array<i64: 16, 32>, sites = #rdu.sites<(2, 1)>, routes = [#rdu.route<vector, hops [], links []>, #rdu.route<vector, hops [1], links [(2, 1) -> (3, 1)]>]} : (!rdu.stream<2x4xf32>) -> (!rdu.stream<2x2xf32>, !rdu.stream<2x2xi64>)
    %12 = rdu.compute "permute"(%9) {unit = #rdu.unit<pmu>, params = {dims = array<i64: 1, 0>}, bytes = 64 : i64, units = 1 : i64, tiles = array<i64: 32>, sites = #rdu.sites<(1, 1)>, routes = [#rdu.route<vector, hops [], links []>]} : (!rdu.stream<2x4xf32>) -> !rdu.stream<4x2xf32>
    rdu.store %11 to %4 {units = 1 : i64, tiles = array<i64>, sites = #rdu.sites<(3, 1)>, routes = []} : !rdu.stream<2x2xi64> -> !rdu.mem<2x2xi64>
  }
  rdu.kernel "k1" {
    %13 = rdu.load %2 {units = 1 : i64} : !rdu.mem<2x4xf32> -> !rdu.stream<2x4xf32>
    rdu.store %13 to %3 {units = 1 : i64} : !rdu.stream<2x4xf32> -> !rdu.mem<2x4xf32>
  }
}

// CHECK:      builtin.module @m attributes {rdu.target = #rdu.target<"small">, rdu.placement = #rdu.placement<method "cp-sat windows", seed 3, kernels 1, distinct_kernels 1, wirelength 12, lower_bound 10, gap 0.166667, cp_sat [windows_solved 1, windows_improved 1, windows_proven_optimal 0, conflicts 5, branches 40], objective "multicast-hpwl", budgets [0.25], placed_with [0]>} {
// CHECK-NEXT:   %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64, offset = 0 : i64} : !rdu.mem<2x4xf32>
// CHECK-NEXT:   %1 = rdu.tensor "c" {role = #rdu.role<constant>, tier = #rdu.tier<ddr>, value = 1.500000e+00 : f64, offset = 64 : i64} : !rdu.mem<f32>
// CHECK-NEXT:   %2 = rdu.tensor "w" {role = #rdu.role<weight>, tier = #rdu.tier<hbm>, value = dense_resource<w_blob> : tensor<2x4xf32>, offset = 128 : i64} : !rdu.mem<2x4xf32>
// CHECK-NEXT:   %3 = rdu.tensor "t0" {role = #rdu.role<activation>, tier = #rdu.tier<hbm>, offset = 192 : i64} : !rdu.mem<2x4xf32>
// CHECK-NEXT:   %4 = rdu.tensor "output0" {role = #rdu.role<output>, tier = #rdu.tier<hbm>, index = 0 : i64, offset = 256 : i64} : !rdu.mem<2x2xi64>
// CHECK-NEXT:   rdu.kernel "k0" attributes {section = 0 : i64} {
// CHECK-NEXT:     %5 = rdu.load %0 {units = 2 : i64, tiles = array<i64: 32>, sites = #rdu.sites<(0, 0), (0, 1)>, routes = [#rdu.route<vector, hops [1], links [(0, 0) -> (1, 0)]>]} : !rdu.mem<2x4xf32> -> !rdu.stream<2x4xf32>
// CHECK-NEXT:     %6 = rdu.buffer %5 {units = 1 : i64, bytes = 64 : i64, tile_bytes = 32 : i64, tiles = array<i64: 32>, sites = #rdu.sites<(1, 0)>, routes = [#rdu.route<vector, hops [1], links [(1, 0) -> (1, 1)]>]} : !rdu.stream<2x4xf32>
// CHECK-NEXT:     %7 = rdu.load %1 {units = 1 : i64, tiles = array<i64: 4>, sites = #rdu.sites<(0, 2)>, routes = [#rdu.route<vector, hops [1], links [(0, 2) -> (1, 2)]>]} : !rdu.mem<f32> -> !rdu.stream<f32>
// CHECK-NEXT:     %8 = rdu.buffer %7 {units = 1 : i64, bytes = 8 : i64, tile_bytes = 4 : i64, tiles = array<i64: 4>, sites = #rdu.sites<(1, 2)>, routes = [#rdu.route<scalar, hops [1], links [(1, 2) -> (1, 1)]>]} : !rdu.stream<f32>
// CHECK-NEXT:     %9 = rdu.compute "mul"(%6, %8) {unit = #rdu.unit<pcu>, params = {}, units = 1 : i64, tiles = array<i64: 32>, sites = #rdu.sites<(1, 1)>, routes = [#rdu.route<vector, hops [0, 1], links [(1, 1) -> (2, 1)]>]} : (!rdu.stream<2x4xf32>, !rdu.stream<f32>) -> !rdu.stream<2x4xf32>
// CHECK-NEXT:     %10, %11 = rdu.compute "topk"(%9) {unit = #rdu.unit<pcu>, params = {k = 2 : i64, dim = 1 : i64, largest = true, sorted = true}, units = 1 : i64, tiles = array<i64: 16, 32>, sites = #rdu.sites<(2, 1)>, routes = [#rdu.route<vector, hops [], links []>, #rdu.route<vector, hops [1], links [(2, 1) -> (3, 1)]>]} : (!rdu.stream<2x4xf32>) -> (!rdu.stream<2x2xf32>, !rdu.stream<2x2xi64>)
// CHECK-NEXT:     %12 = rdu.compute "permute"(%9) {unit = #rdu.unit<pmu>, params = {dims = array<i64: 1, 0>}, bytes = 64 : i64, units = 1 : i64, tiles = array<i64: 32>, sites = #rdu.sites<(1, 1)>, routes = [#rdu.route<vector, hops [], links []>]} : (!rdu.stream<2x4xf32>) -> !rdu.stream<4x2xf32>
// CHECK-NEXT:     rdu.store %11 to %4 {units = 1 : i64, tiles = array<i64>, sites = #rdu.sites<(3, 1)>, routes = []} : !rdu.stream<2x2xi64> -> !rdu.mem<2x2xi64>
// CHECK-NEXT:   }
// CHECK-NEXT:   rdu.kernel "k1" {
// CHECK-NEXT:     %13 = rdu.load %2 {units = 1 : i64} : !rdu.mem<2x4xf32> -> !rdu.stream<2x4xf32>
// CHECK-NEXT:     rdu.store %13 to %3 {units = 1 : i64} : !rdu.stream<2x4xf32> -> !rdu.mem<2x4xf32>
// CHECK-NEXT:   }
// CHECK-NEXT: }
