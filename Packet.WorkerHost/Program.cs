Console.WriteLine("Packet.WorkerHost: workers arrive with issue 3.");
