# gnuplot script for tools/bench --sweep: login throughput and p99 latency against
# concurrency, gRPC and REST, from the data file `passgate_bench report --sweep-csv` wrote.
#   gnuplot -e "data='sweep.dat'; out='docs/benchmarks-concurrency.png'; title='...'" sweep.gp
set terminal pngcairo size 1200,480 font ",10"
set output out
set datafile missing "nan"
set logscale x 2
set xlabel "concurrent calls (outstanding requests)"
set grid
set key top left
set multiplot layout 1,2 title title
set title "Throughput"
set ylabel "successful logins/s"
set yrange [0:*]
plot data using 1:2 with linespoints lw 2 title "gRPC Login", \
     data using 1:4 with linespoints lw 2 title "REST POST /password/login"
set title "p99 latency"
set ylabel "ms"
plot data using 1:3 with linespoints lw 2 title "gRPC Login", \
     data using 1:5 with linespoints lw 2 title "REST POST /password/login"
unset multiplot
