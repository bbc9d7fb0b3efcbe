// Submits a job from the application's own transaction with jobsvc_submit (see the README
// section "Submitting from your own SQL transaction"): the order row and the job commit
// together. Run with the PostgreSQL JDBC driver on the class path:
//   java -cp postgresql.jar SqlSubmit.java jdbc:postgresql://HOST/DB?user=U
// Prints the job's id. (Not part of the client library: it needs no database driver.)

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

public final class SqlSubmit {
  private SqlSubmit() {}

  /** Inserts an order and submits the job that handles it, in one transaction. */
  static String placeOrder(Connection conn, String orderJson) throws SQLException {
    conn.setAutoCommit(false);
    try (PreparedStatement insert = conn.prepareStatement("INSERT INTO orders (body) VALUES (?::jsonb)");
        PreparedStatement submit = conn.prepareStatement(
            "SELECT jobsvc_submit(handler => 'echo', version => '1.0.0', input => ?::jsonb)")) {
      insert.setString(1, orderJson);
      insert.executeUpdate();
      submit.setString(1, orderJson);
      try (ResultSet row = submit.executeQuery()) {
        row.next();
        String jobId = row.getString(1);
        conn.commit();
        return jobId;
      }
    } catch (SQLException e) {
      conn.rollback();
      throw e;
    }
  }

  public static void main(String[] args) throws SQLException {
    try (Connection conn = DriverManager.getConnection(args[0])) {
      System.out.println(placeOrder(conn, "{\"tenant\": \"acme\", \"total\": 9}"));
    }
  }
}
