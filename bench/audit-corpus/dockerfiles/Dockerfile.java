FROM maven:3.9-eclipse-temurin-21 AS build
WORKDIR /build
COPY pom.xml .
RUN mvn -B dependency:go-offline
COPY src ./src
RUN mvn -B package -DskipTests

FROM eclipse-temurin:21-jre
RUN groupadd -r app && useradd -r -g app app
COPY --from=build /build/target/app.jar /app/app.jar
ENV JAVA_OPTS="-XX:MaxRAMPercentage=75"
ENV DB_PASSWORD=Tr0ub4dor3
USER app
ENTRYPOINT ["sh", "-c", "java $JAVA_OPTS -jar /app/app.jar"]
