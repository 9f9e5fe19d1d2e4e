# The EventMachine baseline: the Ruby reactor that Packet was built on, echoing what it receives, as a plain
# EventMachine server is written. Run by the bench when Ruby and EventMachine are installed
# (Debian: apt-get install ruby-eventmachine):
#   ruby eventmachine-echo.rb --port N
# It prints "listening on HOST:PORT", as the bench's other servers do, and runs until killed.
require 'eventmachine'
require 'socket'

module Echo
  def post_init
    set_sock_opt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
  end

  def receive_data(data)
    send_data(data)
  end
end

port = (ARGV[ARGV.index('--port') + 1] if ARGV.include?('--port')).to_i
# The idle cell holds 5,000 connections: take the hard limit on descriptors, as .NET does for itself.
Process.setrlimit(:NOFILE, Process.getrlimit(:NOFILE)[1])
EM.epoll
EM.set_descriptor_table_size(Process.getrlimit(:NOFILE)[0])
EM.run do
  server = EM.start_server('127.0.0.1', port, Echo)
  bound, host = Socket.unpack_sockaddr_in(EM.get_sockname(server))
  $stdout.puts "listening on #{host}:#{bound}"
  $stdout.flush
end
